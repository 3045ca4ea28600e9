import { render } from 'preact'
import { App } from './app.js'
import { LiveStore } from './live.js'
import './styles.css'

const store = new LiveStore()
store.connect()
render(<App store={store} />, document.getElementById('app')!)
